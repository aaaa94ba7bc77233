{{/* Names and labels. */}}
{{- define "usage-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "usage-guard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "usage-guard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "usage-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "usage-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "usage-guard.labels" -}}
helm.sh/chart: {{ include "usage-guard.chart" . }}
{{ include "usage-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: usage-guard
{{- end -}}

{{- define "usage-guard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "usage-guard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "usage-guard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret the pods read credentials from: the operator's, or the chart's own. */}}
{{- define "usage-guard.secretName" -}}
{{- default (include "usage-guard.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* "true" when the chart creates a Secret: no existingSecret and at least one credential given. */}}
{{- define "usage-guard.createSecret" -}}
{{- if and (not .Values.secrets.existingSecret) (or .Values.secrets.adminToken .Values.secrets.registryPassword .Values.secrets.redisUrl) -}}
true
{{- end -}}
{{- end -}}

{{/* The registry URL as configured (empty = embedded H2 file). */}}
{{- define "usage-guard.registryUrl" -}}
{{- dig "usage-guard" "registry" "url" "" (.Values.config | default dict) -}}
{{- end -}}

{{/* "true" when the registry is an embedded H2 file under ./data (needs a writable /app/data). */}}
{{- define "usage-guard.h2File" -}}
{{- $url := include "usage-guard.registryUrl" . -}}
{{- if or (not $url) (hasPrefix "jdbc:h2:file:" $url) (hasPrefix "jdbc:h2:./" $url) -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when more than one pod may run at once. */}}
{{- define "usage-guard.multiReplica" -}}
{{- if .Values.autoscaling.enabled -}}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 -}}true{{- end -}}
{{- else if gt (int .Values.replicaCount) 1 -}}
true
{{- end -}}
{{- end -}}

{{/*
Refuses configurations that would run but misbehave: several replicas each with their own embedded
registry and their own limit counters would multiply every limit and lose admin changes.
*/}}
{{- define "usage-guard.validate" -}}
{{- $cfg := .Values.config | default dict -}}
{{- $store := dig "usage-guard" "state" "store" "local" $cfg | toString | lower -}}
{{- $url := include "usage-guard.registryUrl" . -}}
{{- if include "usage-guard.multiReplica" . -}}
{{- if or (not $url) (hasPrefix "jdbc:h2:" $url) -}}
{{- fail "usage-guard: more than one replica (replicaCount > 1 or autoscaling) needs a shared registry: set config.usage-guard.registry.url to a PostgreSQL JDBC URL (jdbc:postgresql://host:5432/db), config.usage-guard.registry.username, and the password in secrets.registryPassword or secrets.existingSecret. The embedded H2 registry is per pod." -}}
{{- end -}}
{{- if ne $store "redis" -}}
{{- fail "usage-guard: more than one replica (replicaCount > 1 or autoscaling) needs shared state: set config.usage-guard.state.store=redis and the Redis URL (secrets.redisUrl, a redis-url key in secrets.existingSecret, or config.usage-guard.state.redis.url). With store=local every pod counts limits on its own." -}}
{{- end -}}
{{- end -}}
{{- if eq $store "redis" -}}
{{- if not (or .Values.secrets.existingSecret .Values.secrets.redisUrl (dig "usage-guard" "state" "redis" "url" "" $cfg)) -}}
{{- fail "usage-guard: config.usage-guard.state.store=redis needs a Redis URL: secrets.redisUrl (redis://:password@host:6379), a redis-url key in secrets.existingSecret, or config.usage-guard.state.redis.url (no password)." -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Where the two rendered files are mounted, and the property that makes the gateway read them. */}}
{{- define "usage-guard.configLocation" -}}
file:/config/app/application.yml,file:/config/limits/limits.yml
{{- end -}}
