import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AuthGuard } from './auth.guard';
import { SessionsController } from './sessions.controller';

@Module({
  imports: [UsersModule, SessionsModule],
  controllers: [SessionsController],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
export class AuthModule {}
