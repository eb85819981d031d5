import type { Connection } from '@cache/client'
import { type ConnectionOptions, type JobsOptions, Queue, Worker } from 'bullmq'
import { Cluster, Redis } from 'ioredis'
import type { z } from 'zod'
import { InvalidPayloadError } from './errors.js'

/** Zod schemas by job name. */
export type JobDefinition = Record<string, z.ZodType>

/** Options of defineQueue. */
export interface QueueOptions<J extends JobDefinition> {
  /** Scope of the queue's keys. @default 'queue' */
  namespace?: string
  /** A zod schema per job name. */
  jobs: J
  /** Default BullMQ job options. */
  defaults?: JobsOptions
}

function connection(conn: Connection): Redis | Cluster {
  const o = conn.bullmq()
  if (o.kind === 'cluster') return new Cluster(o.startupNodes, o.options)
  return new Redis(o.options)
}

/** A typed BullMQ queue: `add` validates data with the job's schema; workers send schema-invalid data to the DLQ. */
export class TypedQueue<J extends JobDefinition> {
  readonly queue: Queue
  readonly deadLetter: Queue
  readonly #jobs: J
  readonly #conn: Connection
  readonly #prefix: string
  readonly #workers = new Set<Worker>()
  readonly #clients: (Redis | Cluster)[] = []

  constructor(conn: Connection, name: string, options: QueueOptions<J>) {
    this.#conn = conn
    this.#jobs = options.jobs
    const ns = options.namespace ?? 'queue'
    this.#prefix = conn.bullmq().kind === 'cluster' ? `{${ns}:${name}}` : ns
    const c = this.#client()
    this.queue = new Queue(name, {
      connection: c as unknown as ConnectionOptions,
      prefix: this.#prefix,
      defaultJobOptions: options.defaults,
    })
    this.deadLetter = new Queue(`${name}-dlq`, {
      connection: c as unknown as ConnectionOptions,
      prefix: this.#prefix,
    })
  }

  #client(): Redis | Cluster {
    const c = connection(this.#conn)
    this.#clients.push(c)
    return c
  }

  #validate<N extends keyof J & string>(name: N, data: unknown): z.infer<J[N]> {
    const schema = this.#jobs[name]
    if (!schema) throw new InvalidPayloadError(name, '(name)', 'is not a defined job')
    const r = schema.safeParse(data)
    if (!r.success) {
      const issue = r.error.issues[0]
      throw new InvalidPayloadError(name, issue?.path.join('.') || '(root)', issue?.message ?? 'is invalid')
    }
    return r.data as z.infer<J[N]>
  }

  /** Validates and enqueues one job. */
  async add<N extends keyof J & string>(name: N, data: z.input<J[N]>, opts?: JobsOptions): Promise<string> {
    const job = await this.queue.add(name, this.#validate(name, data), opts)
    return job.id as string
  }

  /** Validates every job, then enqueues them all (nothing is enqueued if one is invalid). */
  async addBulk(jobs: { name: keyof J & string; data: unknown; opts?: JobsOptions }[]): Promise<string[]> {
    const checked = jobs.map((j) => ({ name: j.name, data: this.#validate(j.name, j.data), opts: j.opts }))
    return (await this.queue.addBulk(checked)).map((j) => j.id as string)
  }

  /** Starts a worker; data failing its schema goes straight to the dead-letter queue. */
  process(
    handlers: { [N in keyof J]: (job: { id?: string; name: N; data: z.infer<J[N]> }) => Promise<unknown> },
    opts: { concurrency?: number } = {},
  ): Worker {
    const w = new Worker(
      this.queue.name,
      async (job) => {
        const name = job.name as keyof J & string
        let data: unknown
        try {
          data = this.#validate(name, job.data)
        } catch (err) {
          await this.deadLetter.add(name, {
            data: job.data,
            error: String((err as Error).message),
            id: job.id,
          })
          return undefined
        }
        return handlers[name]({ id: job.id, name, data: data as never })
      },
      {
        connection: this.#client() as unknown as ConnectionOptions,
        prefix: this.#prefix,
        concurrency: opts.concurrency ?? 1,
      },
    )
    this.#workers.add(w)
    return w
  }

  /** Closes workers and queues (idempotent). */
  async close(): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.close()))
    this.#workers.clear()
    await Promise.all([this.queue.close(), this.deadLetter.close()])
    for (const c of this.#clients.splice(0)) c.disconnect()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/** Defines a typed queue. */
export function defineQueue<J extends JobDefinition>(
  conn: Connection,
  name: string,
  options: QueueOptions<J>,
) {
  return new TypedQueue(conn, name, options)
}
