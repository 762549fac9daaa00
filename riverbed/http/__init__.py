"""The HTTP face: the API (`app.py`, FastAPI) and the search page (`page.py`, templates/, static/)."""
