"""The built-in families, one package each; :mod:`schedlab.plugins` names and registers them."""
