/**
 * Browser tests (test/browser/*.spec.ts) in Chromium, found by scripts/system-tools.ts (CHROMIUM_PATH, then
 * a Playwright-installed browser, then chromium on PATH). `npm test` installs one first where it can
 * (scripts/preflight.ts). Run: npm run test:browser
 */
import { defineConfig } from '@playwright/test'
import { chromiumPath } from './scripts/system-tools.ts'

export default defineConfig({
  testDir: 'test/browser',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  workers: 1,
  fullyParallel: false,
  // One retry: the devnet-backed browser tests are timing-sensitive on a 2-core machine (see the closing notes).
  retries: 1,
  forbidOnly: process.env.CI !== undefined,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  globalTimeout: 25 * 60_000,
  reporter: 'list',
  use: {
    headless: true,
    browserName: 'chromium',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumPath(),
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
    }
  }
})
