export async function runSyncCatchup (): Promise<never[]> { return [] }
