"""Jobs: the spec a tenant submits, the resources it resolves to, and the state machine it moves through."""
