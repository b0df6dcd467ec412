import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'darkroom:public';

/** Marks a route that needs no bearer token (sign-up, sign-in). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
