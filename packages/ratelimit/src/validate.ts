import { InvalidArgumentError } from '@cache/client'

const PKG = '@cache/ratelimit'

/** Validates a cost argument. @internal */
export function checkCost(cost: unknown): number {
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 1) {
    throw new InvalidArgumentError(PKG, 'cost', `must be a positive integer, got ${String(cost)}`)
  }
  return cost
}

/** Validates a key argument. @internal */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError(
      PKG,
      'key',
      `must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`,
    )
  }
  return key
}
