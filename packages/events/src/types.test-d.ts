import { type Connection, isCacheError } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type {
  Consumer,
  EventStream,
  EventStreamOptions,
  EventsErrorCode,
  Presence,
  PresenceOptions,
  PubSub,
  PubSubOptions,
  RoomHub,
  RoomHubOptions,
} from './index.js'

describe('family conventions', () => {
  it('construction is new Thing(conn, …, options)', () => {
    expectTypeOf<ConstructorParameters<typeof PubSub>>().toEqualTypeOf<
      [conn: Connection, options?: PubSubOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof EventStream>>().toEqualTypeOf<
      [conn: Connection, name: string, options?: EventStreamOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof Presence>>().toEqualTypeOf<
      [conn: Connection, options?: PresenceOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof RoomHub>>().toEqualTypeOf<
      [conn: Connection, options?: RoomHubOptions]
    >()
  })

  it('the raw channel prefix has its own name (never `prefix`)', () => {
    expectTypeOf<PubSubOptions['channelPrefix']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<PubSub['channelPrefix']>().toEqualTypeOf<string>()
    // @ts-expect-error no `prefix` synonym
    expectTypeOf<PubSubOptions['prefix']>()
  })

  it('every long-lived object has close() and asyncDispose', () => {
    expectTypeOf<EventStream['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<EventStream[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Consumer<unknown>[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<PubSub[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Presence[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<RoomHub[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
  })

  it('error codes are a literal union: a typo does not compile', () => {
    expectTypeOf<'E_INVALID_PAYLOAD'>().toExtend<EventsErrorCode>()
    const check = (err: unknown) => {
      isCacheError(err, 'E_INVALID_PAYLOAD')
      isCacheError(err, 'E_CLOSED')
      // @ts-expect-error a typo'd code does not compile
      isCacheError(err, 'E_INVALID_PAYLOD')
    }
    expectTypeOf(check).toBeFunction()
  })
})
