import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { InstallationRepository } from '../database/installation.repository';
import { DerivativesModule } from '../derivatives/derivatives.module';
import { ImagesModule } from '../images/images.module';
import { PresetsModule } from '../presets/presets.module';
import { PublicDerivativesController, SignedUrlsController } from './signed-urls.controller';
import { SignedUrlsService } from './signed-urls.service';
import { UrlSigner } from './url-signature';

/**
 * Signed public URLs of derivatives. The UrlSigner of this process: URL_SIGNING_KEY (and URL_SIGNING_KEY_PREVIOUS) when set, else the
 * installation's own key, read once at start: it never changes, and checking a URL then reads nothing.
 */
@Module({
  imports: [DerivativesModule, ImagesModule, PresetsModule],
  controllers: [SignedUrlsController, PublicDerivativesController],
  providers: [
    SignedUrlsService,
    {
      provide: UrlSigner,
      inject: [AppConfig, getDataSourceToken()],
      useFactory: async (config: AppConfig, dataSource: DataSource) => {
        const current = config.URL_SIGNING_KEY ?? (await new InstallationRepository(dataSource).urlSigningKey());
        return new UrlSigner(
          Buffer.from(current, 'utf8'),
          config.URL_SIGNING_KEY_PREVIOUS.map((key) => Buffer.from(key, 'utf8')),
        );
      },
    },
  ],
})
export class SignedUrlsModule {}
