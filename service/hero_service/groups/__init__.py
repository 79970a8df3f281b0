"""Group assembly: parts of a rollout group meet here (in this process, or across replicas through
Redis), are combined once, and every part gets its slice of the result."""
