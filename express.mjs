import cjs from './express.js'

export const { createSalesforceController, salesforceRouter } = cjs
export default cjs
