# Multi-stage build: a static binary on a minimal, non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/crm-registry .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crm-registry /crm-registry
USER nonroot:nonroot
EXPOSE 4003
ENTRYPOINT ["/crm-registry"]
