'use strict'
// Controllers/exportController.js: COUNT, paginator, then LIMIT/OFFSET (no ORDER BY), with one
// refresh-and-retry per request on 401 INVALID_SESSION_ID. Past OFFSET 2,000 Salesforce answers
// NUMBER_OUTSIDE_VALID_RANGE and the error goes to next(), as in production.
const axios = require('axios')
const pagination = require('./pagination')

function createExportController(env, DatabaseQuery, providers) {
  const contactsURL = env.SALESFORCE_CONTACTS_ENDPOINT
  const dealsURL = env.SALESFORCE_DEALS_ENDPOINT
  const notesURL = env.SALESFORCE_NOTES_ENDPOINT
  const countAllRecordEndpoint = env.SALESFORCE_COUNT_ENDPOINT

  async function exportData(req, res, next) {
    try {
      if (!req.auth) {
        return res.status(401).json({ message: 'Unauthorized User' })
      }
      let query = await DatabaseQuery.findQuery(req.auth.account_id, req.auth.uid)
      if (!query) {
        return res.status(400).json({ success: false, errno: 400, message: 'Api Token Not Found' })
      }
      let accessToken = query.token.access_token

      const type = req.params.type
      let apiUrl = null
      let count_type
      if (type === 'contacts') {
        apiUrl = contactsURL
        count_type = 'Contact'
      } else if (type === 'deals') {
        apiUrl = dealsURL
        count_type = 'opportunity'
      } else if (type === 'notes') {
        apiUrl = notesURL
        count_type = 'Note'
      }
      if (apiUrl === null) {
        return res.status(400).json({ success: false, errno: 400, message: 'Please provide valid type. Example contacts and deals' })
      }

      const pageNo = req.query.page
      const limitValue = req.query.limit
      const headers = () => ({ Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' })
      let paginationData
      let getPaginationValue
      let response

      const run = async () => {
        paginationData = await axios.get(`${countAllRecordEndpoint}+${count_type}`, { headers: headers() })
        getPaginationValue = pagination.paginator(paginationData.data.totalSize, pageNo, limitValue)
        if (parseInt(getPaginationValue.page) <= getPaginationValue.total_pages) {
          response = await axios.get(
            `${apiUrl} limit ${getPaginationValue.per_page} offset ${getPaginationValue.offsetValue}`,
            { headers: headers() },
          )
        }
      }

      try {
        await run()
      } catch (error) {
        if (
          error.response &&
          error.response.status === 401 &&
          error.response.data[0].errorCode === 'INVALID_SESSION_ID'
        ) {
          accessToken = await providers.getRefreshAccessToken(query)
          await run() // retry both COUNT and data queries
        } else {
          throw error
        }
      }

      return res.status(200).json({
        success: true,
        message: 'SUCCESS',
        data: (response && response.data && response.data.records) || [],
        pagination: getPaginationValue,
      })
    } catch (error) {
      next(error)
    }
  }

  return { exportData }
}

module.exports = { createExportController }
