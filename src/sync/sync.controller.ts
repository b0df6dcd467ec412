import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { SyncResponseDto } from './dto/sync-response.dto';
import { parseSyncQuery, SYNC_QUERY_DESCRIPTIONS } from './sync-query';
import { SyncService } from './sync.service';

@ApiTags('sync')
@ApiBearerAuth()
@Controller('api/sync')
export class SyncController {
  constructor(private readonly sync: SyncService) {}

  @Get()
  @ApiOperation({
    summary: 'What changed in your images and jobs since your cursor (delta sync)',
    description:
      'The records created or changed since `since`, the ids deleted since (kept SYNC_TOMBSTONE_DAYS), and the cursor to send next time. ' +
      'With `has_more`, ask again at once with the new cursor. Without `since`, every current record, paged the same way. ' +
      'Admins sync their own records only; ADMIN_TOKEN, no user, is refused (403). A cursor older than the deletions kept answers 410: sync again without `since`.',
  })
  @ApiQuery({ name: 'since', required: false, type: String, description: SYNC_QUERY_DESCRIPTIONS.since })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: SYNC_QUERY_DESCRIPTIONS.limit })
  @ApiOkResponse({ type: SyncResponseDto })
  @ApiErrorResponses(401, 403, 410, 422)
  changes(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>): Promise<SyncResponseDto> {
    return this.sync.sync(principal, parseSyncQuery(query));
  }
}
