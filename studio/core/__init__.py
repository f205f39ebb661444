"""Plain data types and the WorkspaceBackend protocol: no Qt, no Azure, no storage."""
