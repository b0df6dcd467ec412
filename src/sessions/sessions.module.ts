import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionCache } from './session-cache';
import { Session } from './session.entity';
import { SessionsService } from './sessions.service';
import { SessionRepository } from './session.repository';

@Module({
  imports: [TypeOrmModule.forFeature([Session])],
  providers: [SessionsService, SessionCache, SessionRepository],
  exports: [SessionsService],
})
export class SessionsModule {}
