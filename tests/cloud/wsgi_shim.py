"""WSGI entry points for running Keystone and Glance under gunicorn in tests.

Keystone parses sys.argv with oslo.config, so gunicorn's own flags (--bind, ...) would be taken
as Keystone options and rejected. This shim drops them before the service is imported.
Use as `gunicorn wsgi_shim:keystone` or `gunicorn wsgi_shim:glance` (with --pythonpath set to
this directory). Config comes from OS_KEYSTONE_CONFIG_DIR / OS_GLANCE_CONFIG_DIR.
"""

import sys


def __getattr__(name):
    # Module-level __getattr__ (PEP 562): only the service asked for is imported.
    sys.argv = sys.argv[:1]
    if name == "keystone":
        from keystone.wsgi.api import application

        return application
    if name == "glance":
        from glance.wsgi.api import application

        return application
    raise AttributeError(name)
