import cjs from './postgres.js'

export const { PostgresStore } = cjs
export default cjs
