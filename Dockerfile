# runstream: one image for the API (`npm run serve`) and the worker (`npm run worker`).
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# npm 11: the project's `allowScripts` decides which dependency install scripts run (see package.json).
RUN npm install -g npm@11 && npm cache clean --force

# Dependencies first, so that source changes reuse this layer. `npm ci` installs exactly the lock
# file and runs the `prepare` script, which is `prisma generate`: it needs the schema and
# prisma.config.ts (and no database).
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
# The web console (/console): its browser bundle is built from src/console/web with esbuild.
RUN npm run build:console
# `npm start|serve|worker` run the compiled code in .build/ (scripts/build.mjs), built here once.
COPY scripts/build.mjs ./scripts/
RUN npm run build

# The embedded PostgreSQL is not used here (DATABASE_URL is set), but DATA_DIR stays writable.
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node

EXPOSE 4000
CMD ["npm", "run", "serve"]
