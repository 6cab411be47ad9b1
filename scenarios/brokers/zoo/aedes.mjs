// aedes on loopback, in memory, anonymous: node aedes.mjs PORT
// aedes is resolved from the node_modules folder beside this file (the broker list links it).
import net from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2])
const broker = await Aedes.createBroker()
const server = net.createServer(broker.handle)
server.listen(port, '127.0.0.1')
const stop = () => broker.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
