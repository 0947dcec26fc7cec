export async function runRoundLatency (): Promise<never[]> { return [] }
