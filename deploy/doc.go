// Package deploy holds no code: it is the home of the deployment files
// (Dockerfile, docker-compose.yml, Kubernetes manifests, Prometheus,
// Alertmanager and Grafana configuration) and of the tests that check them
// against the real schemas and against the config keys journeys knows, since
// no container engine or cluster runs where the tests do.
package deploy
