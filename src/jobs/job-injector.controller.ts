import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../identity/admin-only.decorator';
import { CurrentPrincipal } from '../identity/current-principal.decorator';
import { Principal } from '../identity/principal';
import { ApiErrorResponses } from '../common/api-error-responses.decorator';
import { InjectJobsDto } from './dto/inject-jobs.dto';
import { InjectionSummaryDto } from './dto/injection-summary.dto';
import { JobInjectorService } from './job-injector.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/jobs')
export class JobInjectorController {
  constructor(private readonly injector: JobInjectorService) {}

  @Post('inject')
  @AdminOnly('inject jobs')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create a job for every matching image that lacks one (admins)',
    description:
      'For every image the selection matches, creates the process job unless the image has a completed, queued or running one ' +
      'with the same job_sequence and params (failed and cancelled ones count as missing); force: for every match; ' +
      'dry_run: only counts. Answers when the scan is done; `npm run inject` does the same from a shell.',
  })
  @ApiOkResponse({ type: InjectionSummaryDto })
  @ApiErrorResponses(400, 401, 403, 422)
  async inject(@CurrentPrincipal() principal: Principal, @Body() dto: InjectJobsDto): Promise<InjectionSummaryDto> {
    return InjectionSummaryDto.from(await this.injector.inject(principal, dto));
  }
}
