"""MLflow tracking servers as workspaces, over MLflow's REST API (the backend is a later issue)."""
