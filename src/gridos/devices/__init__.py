"""Device registry: sites, devices, nominal ratings."""
