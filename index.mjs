import cjs from './index.js'

export const { Forcelink, ForcelinkError, paginate } = cjs
export default cjs
