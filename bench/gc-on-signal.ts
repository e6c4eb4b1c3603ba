// Loaded into the servers the benchmark starts (never into production): a
// full collection on SIGUSR2, so memory is read without garbage in it.
process.on('SIGUSR2', () => { (globalThis as { gc?: () => void }).gc?.() })
