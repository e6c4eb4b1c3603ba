// The baseline of the page figures: Fastify's hello-world, loaded exactly like Sitrep.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ port: Number(process.env.PORT ?? 3902), host: '127.0.0.1' })
