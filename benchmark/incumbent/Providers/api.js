'use strict'
// Providers/api.js: the authorize URL, the code exchange and the refresh, with axios.
const axios = require('axios')
const querystring = require('node:querystring')

function createProviders(env, DatabaseQuery) {
  const tokenUrl = `${env.SALESFORCE_LOGIN_URL}/services/oauth2/token`

  function authorizeURL(stateURL) {
    return (
      `${env.SALESFORCE_LOGIN_URL}/services/oauth2/authorize?client_id=${env.SALESFORCE_CLIENT_ID}` +
      `&redirect_uri=${env.SALESFORCE_REDIRECT_URL}&response_type=code` +
      `&scope=${env.SALESFORCE_AUTH_SCOPES}&state=${stateURL}`
    )
  }

  function accessToken(queryCode) {
    return axios.post(
      tokenUrl,
      querystring.stringify({
        grant_type: 'authorization_code',
        client_id: env.SALESFORCE_CLIENT_ID,
        client_secret: env.SALESFORCE_SECRET_ID,
        redirect_uri: env.SALESFORCE_REDIRECT_URL,
        code: queryCode,
      }),
      { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    )
  }

  /** Refreshes, stores the new access token (keeping the original refresh token) and returns it. */
  async function getRefreshAccessToken(queryData) {
    const response = await axios.post(
      tokenUrl,
      querystring.stringify({
        grant_type: 'refresh_token',
        client_id: env.SALESFORCE_CLIENT_ID,
        client_secret: env.SALESFORCE_SECRET_ID,
        redirect_uri: env.SALESFORCE_REDIRECT_URL,
        refresh_token: queryData.token.refresh_token,
      }),
      { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    )
    await DatabaseQuery.saveRefreshToken(queryData.id, {
      token: {
        access_token: response.data.access_token,
        refresh_token: queryData.token.refresh_token, // Salesforce does not rotate: keep the original
        issued_at: response.data.issued_at,
      },
    })
    return response.data.access_token
  }

  return { authorizeURL, accessToken, getRefreshAccessToken }
}

module.exports = { createProviders }
