'use strict'
// Controllers/pagination.js, exactly as documented.
module.exports.paginator = function paginator(items, page, per_page) {
  var page = (page && parseInt(page)) || 1
  var per_page = per_page || items // Default to all items
  var offset = (page - 1) * per_page
  var total_pages = Math.ceil(items / per_page)
  return {
    page: page,
    per_page: per_page,
    total: items,
    total_pages: total_pages,
    next_page: page < total_pages ? page + 1 : null,
    prev_page: page > 1 ? page - 1 : null,
    offsetValue: offset < items ? offset : 0,
  }
}
