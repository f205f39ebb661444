"""An offline Azure Machine Learning emulator for the tests: HTTPS on loopback, reached through a CONNECT proxy.

The real azure-ai-ml, azure-identity and azure-storage-blob talk to the real public host names
(``management.azure.com``, ``eastus.api.azureml.ms``, ``login.microsoftonline.com``,
``devstoreaccount1.blob.core.windows.net``); ``HTTPS_PROXY`` points at ``proxy.ConnectProxy``, which tunnels
``*.blob.*`` to Azurite and every other host to ``server.Emulator`` (always on 127.0.0.1), and
``REQUESTS_CA_BUNDLE`` trusts the test CA of ``certs``. ``tests/azure_fixtures.py`` puts it together.
"""
