// `npx vite` serves the board on http://127.0.0.1:5174 and proxies /config.json to the devnet of `npm start`.
export default {
  server: { host: '127.0.0.1', port: 5174, proxy: { '/config.json': 'http://127.0.0.1:5173' } },
  build: { target: 'es2022' },
  worker: { format: 'es' }
}
