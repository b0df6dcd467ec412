import { ArgumentsHost, Catch, ExceptionFilter, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { csrfTokenOf, sessionCookieOf } from '../auth/cookie-session';
import { renderForbidden, renderSignIn } from './dashboard.page';

/**
 * The dashboard page is for browsers: without a session it answers the sign-in form, and to a
 * non-admin a page saying so (with a way to sign out), rather than the API's JSON errors.
 */
@Catch(UnauthorizedException, ForbiddenException)
export class DashboardPageFilter implements ExceptionFilter {
  catch(exception: UnauthorizedException | ForbiddenException, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<Request>();
    const response = host.switchToHttp().getResponse<Response>();
    response.status(exception.getStatus()).setHeader('Cache-Control', 'no-store').type('html');
    if (exception instanceof UnauthorizedException) {
      response.setHeader('WWW-Authenticate', 'Bearer');
      // A browser that never signed in needs no advice about bearer headers.
      const signedOut = !request.headers.authorization && !sessionCookieOf(request);
      response.send(renderSignIn(signedOut ? 'You are not signed in.' : exception.message));
      return;
    }
    const cookie = sessionCookieOf(request);
    response.send(renderForbidden(exception.message, cookie ? csrfTokenOf(cookie) : null));
  }
}
