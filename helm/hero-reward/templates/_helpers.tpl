{{/*
Names. Truncated to 63 characters: the DNS label limit of Kubernetes names.
*/}}
{{- define "hero-reward.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hero-reward.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hero-reward.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hero-reward.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hero-reward.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hero-reward.labels" -}}
helm.sh/chart: {{ include "hero-reward.chart" . }}
{{ include "hero-reward.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: reward-server
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hero-reward.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hero-reward.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference; a digest wins over the tag.
*/}}
{{- define "hero-reward.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Secrets: the chart's own, or the user's existing one.
*/}}
{{- define "hero-reward.apiKeysSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-api-keys" (include "hero-reward.fullname" .)) }}
{{- end }}

{{- define "hero-reward.hfTokenSecretName" -}}
{{- .Values.hfToken.existingSecret | default (printf "%s-hf-token" (include "hero-reward.fullname" .)) }}
{{- end }}

{{- define "hero-reward.authEnabled" -}}
{{- if or .Values.auth.existingSecret .Values.auth.apiKeys }}true{{ end }}
{{- end }}

{{- define "hero-reward.hfTokenEnabled" -}}
{{- if or .Values.hfToken.existingSecret .Values.hfToken.value }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: preStop sleep + the server's drain + a margin, so the kubelet's SIGKILL
can never cut a drain short. HERO_DRAIN_TIMEOUT_S is rendered from the same value.
*/}}
{{- define "hero-reward.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add (int $s.preStopSleepSeconds) (int $s.drainTimeoutSeconds) (int $s.extraGraceSeconds) }}
{{- end }}

{{/*
The server's settings as HERO_ variables, one per non-null key of .Values.config: camelCase key ->
HERO_SNAKE_CASE. Non-strings go through toJson so that 1000000 is not rendered as 1e+06 (which an
integer setting would reject) and booleans read true/false.
*/}}
{{- define "hero-reward.configEnv" -}}
{{- range $key, $value := .Values.config }}
{{- if not (kindIs "invalid" $value) }}
- name: HERO_{{ $key | snakecase | upper }}
  value: {{ ternary $value (toJson $value) (kindIs "string" $value) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The handler of a probe on PATH. Normally httpGet on the named port. With config.protectProbes the server
wants the API key on /health and /ready too, and httpGet cannot read a Secret, so the probe execs a
stdlib-only Python one-liner that sends the first key of HERO_API_KEYS (any non-2xx raises -> exit 1).
The path is argv[1] so that it stays visible in the rendered manifest.
Usage: include "hero-reward.probeHandler" (list $ "/ready")
*/}}
{{- define "hero-reward.probeHandler" -}}
{{- $root := index . 0 }}
{{- $path := index . 1 }}
{{- if $root.Values.config.protectProbes }}
exec:
  command:
    - python
    - -c
    - "import os, sys, urllib.request as u; k = os.environ.get('HERO_API_KEYS', '').split(',')[0].strip(); u.urlopen(u.Request('http://127.0.0.1:' + os.environ['HERO_PORT'] + sys.argv[1], headers={'Authorization': 'Bearer ' + k} if k else {}), timeout=4)"
    - {{ $path }}
{{- else }}
httpGet:
  path: {{ $path }}
  port: http
{{- end }}
{{- end }}

{{/*
Shared group state: the Redis URL the replicas use (an existing one, or the chart's own), or nothing.
*/}}
{{- define "hero-reward.redisName" -}}
{{- printf "%s-redis" (include "hero-reward.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hero-reward.stateUrl" -}}
{{- if .Values.stateStore.url }}
{{- .Values.stateStore.url }}
{{- else if .Values.stateStore.redis.enabled }}
{{- printf "redis://%s:%v/0" (include "hero-reward.redisName" .) .Values.stateStore.redis.port }}
{{- end }}
{{- end }}

{{/*
The reward model on an engine (rmEngine): the chart's own vLLM, or an engine the user runs.
*/}}
{{- define "hero-reward.rmEngineName" -}}
{{- printf "%s-rm-engine" (include "hero-reward.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hero-reward.rmEngineSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-rm-engine" (include "hero-reward.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hero-reward.rmUrl" -}}
{{- if .Values.rmEngine.url }}
{{- .Values.rmEngine.url }}
{{- else if .Values.rmEngine.vllm.enabled }}
{{- printf "http://%s:%v" (include "hero-reward.rmEngineName" .) .Values.rmEngine.vllm.port }}
{{- end }}
{{- end }}

{{/*
GPUs of one server pod: none when an engine runs the RM.
*/}}
{{- define "hero-reward.gpuCount" -}}
{{- if include "hero-reward.rmUrl" . }}0{{ else }}{{ int .Values.gpu.count }}{{ end }}
{{- end }}
