import { defineConfig } from 'vite'

// The page lives in public/ (index.html + style.css); the UI code in src/ui, the worker in worker/.
export default defineConfig({
  root: 'public',
  publicDir: false,
  base: './',
  build: {
    outDir: '../dist/app',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false
  },
  worker: { format: 'es' },
  server: { fs: { allow: ['..'] } }
})
