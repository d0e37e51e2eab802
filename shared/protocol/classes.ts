/** Side of a Fashion-MNIST image, in pixels. */
export const IMAGE_SIZE = 28;
/** Bytes of one raw grayscale image, row-major. */
export const IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE;
/** Number of classes. */
export const NUM_CLASSES = 10;
/** Class names, by label index. */
export const CLASS_NAMES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);
