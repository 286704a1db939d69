{{/* Names and labels. */}}
{{- define "capstan.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "capstan.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "capstan.labels" -}}
{{ include "capstan.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "capstan.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "capstan.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "capstan.fullname" .)) -}}
{{- end -}}

{{/* Redis: the in-chart StatefulSet or redis.external.url; "host:port" and scheme. */}}
{{- define "capstan.redis.address" -}}
{{- if .Values.redis.enabled -}}
{{ include "capstan.fullname" . }}-redis:6379
{{- else if include "capstan.redis.sentinel" . -}}
{{- join "," .Values.redis.external.sentinel.hosts -}}
{{- else -}}
{{- required "redis.enabled=false needs redis.external.url" .Values.redis.external.url | urlParse | dig "host" "" -}}
{{- end -}}
{{- end -}}

{{- define "capstan.redis.scheme" -}}
{{- if .Values.redis.enabled }}redis{{ else }}{{ (urlParse .Values.redis.external.url).scheme }}{{ end -}}
{{- end -}}

{{/* "true" when the farm reaches Redis through sentinels (redis.external.sentinel.hosts). */}}
{{- define "capstan.redis.sentinel" -}}
{{- if and (not .Values.redis.enabled) .Values.redis.external.sentinel.hosts }}true{{ end -}}
{{- end -}}

{{/* CAPSTAN_REDIS_URL with Sentinel: sentinel://[:$(REDIS_PASSWORD)@]host:port;sentinel://...
(the first URL carries the master's password, as kombu and Celery read it). */}}
{{- define "capstan.redis.sentinelUrl" -}}
{{- $urls := list -}}
{{- range $i, $host := .Values.redis.external.sentinel.hosts -}}
{{- $login := and (eq $i 0) $.Values.redis.auth.enabled | ternary ":$(REDIS_PASSWORD)@" "" -}}
{{- $urls = append $urls (printf "sentinel://%s%s" $login $host) -}}
{{- end -}}
{{- join ";" $urls -}}
{{- end -}}

{{/*
A secret value: the one given in values, else the one already in the cluster (so generated
values survive upgrades), else a generated one. Args: ctx, key, value, generated.
*/}}
{{- define "capstan.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace (include "capstan.secretName" .ctx) -}}
{{- if .value -}}
{{ .value }}
{{- else if and $existing (hasKey ($existing.data | default dict) .key) -}}
{{ index $existing.data .key | b64dec }}
{{- else -}}
{{ .generated }}
{{- end -}}
{{- end -}}

{{- define "capstan.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "capstan.secretName" .ctx }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
Environment shared by every role. The Redis password comes first so that $(REDIS_PASSWORD)
expands in CAPSTAN_REDIS_URL (Settings appends the db number).
*/}}
{{- define "capstan.env" -}}
{{- if include "capstan.redis.sentinel" . }}
{{- if .Values.redis.auth.enabled }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "REDIS_PASSWORD" "key" "redis-password") }}
{{- end }}
- name: CAPSTAN_REDIS_URL
  value: {{ include "capstan.redis.sentinelUrl" . | quote }}
- name: CAPSTAN_REDIS_MASTER_NAME
  value: {{ .Values.redis.external.sentinel.masterName | quote }}
- name: CAPSTAN_REDIS_MIN_REPLICAS
  value: {{ .Values.redis.external.sentinel.minReplicas | quote }}
{{- if .Values.redis.external.sentinel.auth }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_REDIS_SENTINEL_PASSWORD" "key" "redis-sentinel-password") }}
{{- end }}
{{- else if .Values.redis.auth.enabled }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "REDIS_PASSWORD" "key" "redis-password") }}
- name: CAPSTAN_REDIS_URL
  value: "{{ include "capstan.redis.scheme" . }}://:$(REDIS_PASSWORD)@{{ include "capstan.redis.address" . }}"
{{- else }}
- name: CAPSTAN_REDIS_URL
  value: "{{ include "capstan.redis.scheme" . }}://{{ include "capstan.redis.address" . }}"
{{- end }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_APP_KEYS" "key" "app-keys") }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_SECRET_KEY" "key" "secret-key") }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_S3_ACCESS_KEY" "key" "s3-access-key" "optional" true) }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_S3_SECRET_KEY" "key" "s3-secret-key" "optional" true) }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_CALLBACK_SECRET" "key" "callback-secret" "optional" true) }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_JANUS_ADMIN_KEY" "key" "janus-admin-key" "optional" true) }}
{{ include "capstan.secretEnv" (dict "ctx" . "name" "CAPSTAN_JANUS_ROOM_SECRET" "key" "janus-room-secret" "optional" true) }}
- name: CAPSTAN_DATA_DIR
  value: /var/lib/capstan
- name: CAPSTAN_PORT
  value: {{ .Values.dispatcher.port | quote }}
- name: CAPSTAN_FLOWER_PORT
  value: {{ .Values.flower.port | quote }}
- name: CAPSTAN_WORKER_CONCURRENCY
  value: {{ include "capstan.concurrency" . | quote }}
- name: CAPSTAN_ADMISSION_AUTOSCALED_SLOTS
  value: {{ include "capstan.autoscaledSlots" . | quote }}
{{- end -}}

{{/*
{"recorder": 400, ...}: the slots KEDA can bring each pool to, maxReplicas x concurrency;
admission counts them, or the live ones when more. 0 without KEDA: a CPU HPA does not see
queued tasks, so it might never add the pods they would wait for.
*/}}
{{- define "capstan.autoscaledSlots" -}}
{{- $out := dict -}}
{{- $scales := and .Values.autoscaling.enabled (include "capstan.useKeda" .) -}}
{{- range $pool, $spec := .Values.workers.pools -}}
{{- $slots := 0 -}}
{{- if $scales -}}
{{- $slots = mul (int $spec.autoscaling.maxReplicas) (int $spec.concurrency) -}}
{{- end -}}
{{- $_ := set $out $pool (int $slots) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Where KEDA's operator (another namespace) reads the pools' demand. */}}
{{- define "capstan.capacityUrl" -}}
{{- printf "http://%s-dispatcher.%s.svc:%v/v1/ops/capacity" (include "capstan.fullname" .) .Release.Namespace .Values.dispatcher.service.port -}}
{{- end -}}

{{/* {"recorder": 40, ...}: every pool, since the setting replaces the whole dict. */}}
{{- define "capstan.concurrency" -}}
{{- $out := dict -}}
{{- range $pool, $spec := .Values.workers.pools -}}
{{- $_ := set $out $pool (int $spec.concurrency) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "capstan.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- end -}}

{{/* Writable places on a read-only root filesystem. */}}
{{- define "capstan.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /home/capstan
- name: data
  mountPath: /var/lib/capstan
{{- end -}}

{{- define "capstan.volumes" -}}
- name: tmp
  emptyDir: {}
- name: home
  emptyDir: {}
- name: data
  {{- $mode := include "capstan.dataMode" . }}
  {{- if eq $mode "sharedClaim" }}
  persistentVolumeClaim:
    claimName: {{ .Values.dataVolume.existingClaim }}
  {{- else if eq $mode "singleNode" }}
  persistentVolumeClaim:
    claimName: {{ include "capstan.fullname" . }}-data
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end -}}

{{/*
Where the pods that write output (dispatcher, workers) keep the farm's files; one of:
  s3           settings.storage=s3: output (and segments) in the bucket, scratch in an emptyDir
  sharedClaim  dataVolume.existingClaim: a ReadWriteMany claim every pod mounts
  singleNode   dataVolume.singleNode.enabled: the chart's ReadWriteOnce claim, every pod on its node
Anything else loses recordings (a worker pod's files are not where the dispatcher serves
them, and go with the pod): the chart refuses to render it.
*/}}
{{- define "capstan.dataMode" -}}
{{- if eq (toString .Values.settings.storage) "s3" -}}
{{- $_ := required "settings.storage=s3 needs settings.s3_bucket" .Values.settings.s3_bucket -}}
s3
{{- else if .Values.dataVolume.existingClaim -}}
sharedClaim
{{- else if .Values.dataVolume.singleNode.enabled -}}
singleNode
{{- else -}}
{{- $why := printf "settings.storage=%s with a per-pod emptyDir loses recordings: a worker pod's files are not where the dispatcher serves them, and go with the pod. Set one of: settings.storage=s3 (with settings.s3_bucket, settings.s3_endpoint_url, secrets.s3AccessKey, secrets.s3SecretKey); dataVolume.existingClaim=<a ReadWriteMany claim>; dataVolume.singleNode.enabled=true (every pod on one node)" (toString .Values.settings.storage) -}}
{{- fail $why -}}
{{- end -}}
{{- end -}}

{{/* singleNode: pods that mount the chart's ReadWriteOnce claim carry this label... */}}
{{- define "capstan.dataLabel" -}}
{{- if eq (include "capstan.dataMode" .) "singleNode" -}}
capstan.io/data-volume: {{ include "capstan.fullname" . }}-data
{{- end -}}
{{- end -}}

{{/*
...and are scheduled next to each other (the first one anywhere), so that they share it.
Args: ctx, affinity (the component's own, kept).
*/}}
{{- define "capstan.affinity" -}}
{{- $affinity := deepCopy (.affinity | default dict) -}}
{{- if eq (include "capstan.dataMode" .ctx) "singleNode" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (fromYaml (include "capstan.dataLabel" .ctx))) -}}
{{- $pod := deepCopy (get $affinity "podAffinity" | default dict) -}}
{{- $required := get $pod "requiredDuringSchedulingIgnoredDuringExecution" | default list -}}
{{- $_ := set $pod "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) -}}
{{- $_ = set $affinity "podAffinity" $pod -}}
{{- end -}}
{{- with $affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "capstan.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret-values: {{ toJson .Values.secrets | sha256sum }}
{{- end }}
{{- end -}}

{{/* KEDA if asked, or if "auto" and the cluster serves its API. */}}
{{- define "capstan.useKeda" -}}
{{- $k := .Values.autoscaling.keda -}}
{{- if or (eq (toString $k) "true") (and (eq (toString $k) "auto") (.Capabilities.APIVersions.Has "keda.sh/v1alpha1")) -}}
true
{{- end -}}
{{- end -}}
