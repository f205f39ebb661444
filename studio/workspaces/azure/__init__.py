"""Azure Machine Learning workspaces (the backend is a later issue). Nothing here imports azure at module level."""
