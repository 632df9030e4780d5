import type { Forcelink, ForcelinkError, ReconnectReason } from './index'

// No import from 'express': these types fit Express 4 and 5 (and their @types) alike, and
// `forcelink/express` type-checks whether or not the host installed @types/express.

/** The host's authenticated user, as the incumbent reads it from `req.auth`. */
export interface SalesforceAuth {
  account_id: string | number | { toString(): string }
  uid: string | number | { toString(): string }
}

/** The request as the default `getAuth` reads it (`req.auth`). */
export interface SalesforceRequest {
  auth?: SalesforceAuth | null
  [key: string]: any
}

/** An Express handler, in a shape both Express 4's and Express 5's `app.use`/`app.get` accept. */
export type SalesforceHandler = (req: any, res: any, next: (err?: any) => void) => void

/**
 * Options. `Req` is the host's own request type, so `getAuth` sees its `req.auth` (or `req.user`)
 * typed: `salesforceRouter<AuthedRequest>(fl, { getAuth: (req) => req.auth })`.
 */
export interface SalesforceControllerOptions<Req = SalesforceRequest> {
  /** Where the account and user come from; default `req => req.auth`. Falsy → "Unauthorized User". */
  getAuth?(req: Req): SalesforceAuth | null | undefined | false
  /** The login query parameter holding the return URL; default `"forward_url"`. */
  forwardUrlParam?: string
  /** Sees every ForcelinkError a handler answers (for logging); the client gets a sanitized body. */
  onError?(err: ForcelinkError, req: Req): void
  /** Bind the callback to the browser that started the flow with a cookie (default true; false is unsafe). */
  bindBrowser?: boolean
  /** The binding cookie's name; default `"forcelink_oauth"`. */
  cookieName?: string
  /** Always mark the cookie `Secure` (it is whenever `req.secure` anyway). */
  cookieSecure?: boolean
  /** The cookie's `Path`; default the callback route under the mount path (`req.baseUrl + "/auth/callback"`). */
  cookiePath?: string
  /** For `?download=csv`; default the Forcelink's (`true`). */
  csvFormulaGuard?: boolean
  /**
   * Largest page `GET /export/:type` answers (the no-limit page included): beyond it, 400
   * `PAGE_TOO_LARGE`. Default none (the incumbent's "all records" page, streamed).
   */
  maxPageRecords?: number
}

export interface SalesforceRouterOptions<Req = SalesforceRequest, R = SalesforceHandler> extends SalesforceControllerOptions<Req> {
  /** The host's `express` module (4 or 5); default `require('express')`. Its `Router` type is returned. */
  express?: { Router(): R }
}

export interface SalesforceController {
  /** `GET /auth/login?forward_url=` */
  getLogin: SalesforceHandler
  /** `GET /auth/callback?code=&state=` */
  callback: SalesforceHandler
  /** `DELETE /auth` */
  deleteAccessToken: SalesforceHandler
  /** `GET /export/:type?page=&limit=` or `?download=csv|ndjson` */
  exportData: SalesforceHandler
}

/** Error bodies: `{ success: false, errno, message, code?, reason? }`. */
export interface SalesforceErrorBody {
  success: false
  errno: number
  message: string
  code?: string
  /** 401 `RECONNECT_REQUIRED`: why the user must connect again. */
  reason?: ReconnectReason
}

export declare function createSalesforceController<Req = SalesforceRequest>(
  forcelink: Forcelink,
  options?: SalesforceControllerOptions<Req>,
): SalesforceController
/**
 * A Router to mount at the host's `/v1/integrations/salesforce`: the `Router` of the `express`
 * passed in (typed as that version's Router), else a handler.
 */
export declare function salesforceRouter<Req = SalesforceRequest, R = SalesforceHandler>(
  forcelink: Forcelink,
  options?: SalesforceRouterOptions<Req, R>,
): R
