"""The centre agent: runs next to a centre's engine, connects out to the server with the centre's token,
leases placed jobs, drives the engine through a `Backend`, and reports states, logs and usage back."""
