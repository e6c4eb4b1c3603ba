export const en = {
  'site.name': 'Sitrep',
  'error.title': 'Something went wrong',
  'error.back': 'Back to the incidents',
  'errors.not_found': 'There is nothing here.',
  'errors.unauthorized': 'Sign in first.',
  'errors.forbidden': 'You are not allowed to do this.',
  'errors.csrf': 'This form has expired. Reload the page and try again.',
  'errors.internal': 'Something went wrong on our side. Please try again in a moment.',
  'errors.invalid_request': 'The request is not valid.',
  'errors.too_large': 'That is too large.',
  'errors.rate_limited': 'Too many attempts. Try again in {seconds} s.'
}
