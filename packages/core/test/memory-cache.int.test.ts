import { MemoryCache } from '../src/memory-cache.js'
import { runCacheContract } from './cache-contract.js'

runCacheContract('MemoryCache lru', async () => {
  const cache = new MemoryCache({ eviction: 'lru' })
  return { cache, cleanup: () => cache.close() }
})

runCacheContract('MemoryCache lfu', async () => {
  const cache = new MemoryCache({ eviction: 'lfu', maxEntries: 1000 })
  return { cache, cleanup: () => cache.close() }
})
