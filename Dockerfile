# Multi-stage build: a static binary and the offline GraphiQL assets on a minimal,
# non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/crm-registry .

FROM node:20 AS graphiql
WORKDIR /web
COPY web/graphiql/package.json web/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/graphiql/scripts ./scripts
RUN npm run build

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crm-registry /crm-registry
COPY --from=graphiql /web/dist /web/graphiql/dist
ENV GRAPHIQL_ASSETS_DIR=/web/graphiql/dist
USER nonroot:nonroot
EXPOSE 4003
ENTRYPOINT ["/crm-registry"]
