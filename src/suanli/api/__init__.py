"""The REST API: a FastAPI app factory, thin routers, DTOs and the one place errors become problem+json."""
