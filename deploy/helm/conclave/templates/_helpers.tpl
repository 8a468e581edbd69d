{{- define "conclave.fullname" -}}
{{- printf "%s-conclave" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "conclave.labels" -}}
app.kubernetes.io/name: conclave
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
