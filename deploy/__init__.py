"""How the farm is deployed: the local stack (deploy/local) and the Helm chart (deploy/helm)."""
