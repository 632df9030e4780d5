import type { Request, RequestHandler, Router } from 'express'
import type { Forcelink, ForcelinkError } from './index'

/** The host's authenticated user, as the incumbent reads it from `req.auth`. */
export interface SalesforceAuth {
  account_id: string | number | { toString(): string }
  uid: string | number | { toString(): string }
}

export interface SalesforceControllerOptions {
  /** Where the account and user come from; default `req => req.auth`. Falsy → "Unauthorized User". */
  getAuth?(req: Request): SalesforceAuth | null | undefined
  /** The login query parameter holding the return URL; default `"forward_url"`. */
  forwardUrlParam?: string
  /** Sees every ForcelinkError a handler answers (for logging); the client gets a sanitized body. */
  onError?(err: ForcelinkError, req: Request): void
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

export interface SalesforceRouterOptions extends SalesforceControllerOptions {
  /** The host's `express` module (4 or 5); default `require('express')`. */
  express?: { Router(): Router }
}

export interface SalesforceController {
  /** `GET /auth/login?forward_url=` */
  getLogin: RequestHandler
  /** `GET /auth/callback?code=&state=` */
  callback: RequestHandler
  /** `DELETE /auth` */
  deleteAccessToken: RequestHandler
  /** `GET /export/:type?page=&limit=` or `?download=csv|ndjson` */
  exportData: RequestHandler
}

/** Error bodies: `{ success: false, errno, message, code? }`. */
export interface SalesforceErrorBody {
  success: false
  errno: number
  message: string
  code?: string
}

export declare function createSalesforceController(forcelink: Forcelink, options?: SalesforceControllerOptions): SalesforceController
/** A Router to mount at the host's `/v1/integrations/salesforce`. */
export declare function salesforceRouter(forcelink: Forcelink, options?: SalesforceRouterOptions): Router
