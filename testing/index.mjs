import testing from './index.js'

export const { startSimulator, connectForTest, forcelinkError, MemoryStore, simulatorBinary } = testing
