// The §4.5 UNet runs register themselves here (dataset 'pets', model 'unet', segmentation task).
export {};
