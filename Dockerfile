# One image for the four services; pick one with SERVICE (gateway | engine-worker | projection | scheduler).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/calendar/package.json libs/calendar/
COPY libs/contracts/package.json libs/contracts/
COPY libs/engine/package.json libs/engine/
COPY libs/energy/package.json libs/energy/
COPY libs/telemetry/package.json libs/telemetry/
COPY libs/messaging/package.json libs/messaging/
COPY libs/read-models/package.json libs/read-models/
COPY libs/datasets/package.json libs/datasets/
COPY libs/submission/package.json libs/submission/
COPY libs/scheduling/package.json libs/scheduling/
COPY libs/service/package.json libs/service/
COPY libs/client/package.json libs/client/
COPY apps/cli/package.json apps/cli/
COPY apps/cli/bin apps/cli/bin
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# python3 for the example program kinds (examples/programs); a deployment's own kinds bring what they need.
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# Containers log JSON lines (for log collectors); `npm start` on a workstation logs readable lines.
ENV LOG_FORMAT=json
ENV RUNFORGE_PROGRAM_KINDS=/app/examples/programs/kinds.yaml
WORKDIR /app
COPY --from=build /app /app
ENV SERVICE=gateway
EXPOSE 3000 3001 3002 3003
CMD ["sh", "-c", "exec node apps/${SERVICE}/dist/main.js"]
