'use strict'
// Controllers/authController.js: login (JWT state, 1 h), callback (code exchange) and disconnect.
const jwt = require('jsonwebtoken')

function createAuthController(env, DatabaseQuery, providers) {
  async function getLogin(req, res, next) {
    try {
      const forward_url = req.query.forward_url
      if (!forward_url) {
        return res.status(400).json({ succes: false, errno: 400, message: 'Please provide forward_url' })
      }
      if (!req.auth) {
        return res.status(400).json({ success: false, errno: 400, message: 'Unauthorized User' })
      }
      const query = await DatabaseQuery.findQuery(req.auth.account_id, req.auth.uid)
      if (query && query.token && !query.token_invalidated) {
        return res.redirect(`${forward_url}?status=success&integration=salesforce`)
      }
      if (query && query.token_invalidated) {
        await DatabaseQuery.deleteToken(query.id)
      }
      const state = jwt.sign({ aid: req.auth.account_id, uid: req.auth.uid, forward_url }, env.APP_SECRET, { expiresIn: '1h' })
      return res.redirect(providers.authorizeURL(state))
    } catch (error) {
      next(error)
    }
  }

  async function callback(req, res, next) {
    const code = req.query.code
    if (!code) {
      return res.redirect('?status=error&integration=salesforce&reason=Authentication not initiated')
    }
    let payload
    try {
      payload = jwt.verify(req.query.state, env.APP_SECRET)
    } catch (e) {
      return res.status(400).json({ success: false, message: 'Invalid State' })
    }
    const { aid, uid, forward_url } = payload
    try {
      const response = await providers.accessToken(code)
      const existing = await DatabaseQuery.findQuery(aid, uid)
      await DatabaseQuery.saveRefreshToken(existing ? existing.id : null, {
        token: {
          access_token: response.data.access_token,
          refresh_token: response.data.refresh_token,
          issued_at: response.data.issued_at,
        },
        account_id: aid,
        owner: uid,
      })
      return res.redirect(`${forward_url}?status=success&integration=salesforce`)
    } catch (error) {
      if (error.response && error.response.data) {
        const reason = error.response.data.error_description || error.response.data.error
        return res.redirect(`${forward_url}?status=error&integration=salesforce&reason=${reason}`)
      }
      next(error)
    }
  }

  async function deleteAccessToken(req, res, next) {
    try {
      if (!req.auth) return res.status(400).json({ success: false, errno: 400, message: 'Unauthorized User' })
      const query = await DatabaseQuery.findQuery(req.auth.account_id, req.auth.uid)
      if (!query) return res.status(404).json({ success: false, errno: 404, message: 'Access Token Not Found' })
      await DatabaseQuery.deleteToken(query.id)
      return res.status(200).json({ success: true, message: 'SUCCESS' })
    } catch (error) {
      next(error)
    }
  }

  return { getLogin, callback, deleteAccessToken }
}

module.exports = { createAuthController }
